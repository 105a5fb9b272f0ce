"""The rules engine: rule packs (YAML) compiled into checks that turn records and matches into findings."""

from auditor.rules.check import KINDS, Check, RegistryFacts
from auditor.rules.problems import Problem, RulePackProblems
from auditor.rules.rule import Rule
from auditor.rules.ruleset import RuleSet, default_pack_dir, default_pack_paths, load_rule_set

__all__ = [
    "KINDS",
    "Check",
    "Problem",
    "RegistryFacts",
    "Rule",
    "RulePackProblems",
    "RuleSet",
    "default_pack_dir",
    "default_pack_paths",
    "load_rule_set",
]
