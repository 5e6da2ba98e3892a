"""The one list of params sections: which dataclass owns which section of params.yaml.

Every command, `shoemodel config` and the params-file checks read this table; a new config class is
added here and nowhere else. Importing this module is cheap: the classes are imported on first use.
"""

from __future__ import annotations

from functools import cache
from importlib import import_module

#: params section (dotted for nesting) -> "module:ConfigClass". Order = the order `shoemodel config` prints.
SECTIONS: dict[str, str] = {
    "sample": "shoemodel.synthetic.config:SampleConfig",
    "sets": "shoemodel.sets.config:SetsConfig",
    "executor": "shoemodel.parallel:ExecutorConfig",
    "annotation": "shoemodel.annotation.config:AnnotationConfig",
    "merge": "shoemodel.sets.config:MergeConfig",
    "browse": "shoemodel.annotation.config:BrowseConfig",
    "curation": "shoemodel.curation.config:CurationConfig",
    "train.wd": "shoemodel.training.wd.config:WDConfig",
    "train.lps_keypoints": "shoemodel.training.lps_keypoints.config:FootKeypointsConfig",
    "train.lps_diffusion": "shoemodel.training.lps_diffusion.config:LegDiffusionConfig",
    "train.sw": "shoemodel.training.sw.config:SWConfig",
    "train.shoe_prior": "shoemodel.training.shoe_prior.config:ShoePriorConfig",
    "generate": "shoemodel.pipelines.config:GenerateConfig",
    "benchmark": "shoemodel.pipelines.config:BenchmarkConfig",
    "plots": "shoemodel.plots.config:PlotsConfig",
    "demo": "shoemodel.demo.config:DemoConfig",
}


@cache
def config_class(section: str) -> type:
    """The dataclass of `section` (imported now); KeyError naming the known sections for any other name."""
    if section not in SECTIONS:
        raise KeyError(f"unknown params section '{section}'; sections: {', '.join(SECTIONS)}")
    module, name = SECTIONS[section].split(":")
    return getattr(import_module(module), name)


def section_for(key: str) -> str | None:
    """The registered section `key` (a dotted path) falls in: the longest section equal to it or a prefix of it."""
    named = [s for s in SECTIONS if key == s or key.startswith(s + ".")]
    return max(named, key=len) if named else None


def section_tree() -> dict[str, dict]:
    """The nesting of section names, e.g. {'train': {'wd': {}, ...}, 'sample': {}}: what a params file may hold
    above the config classes' own keys."""
    tree: dict[str, dict] = {}
    for section in SECTIONS:
        node = tree
        for part in section.split("."):
            node = node.setdefault(part, {})
    return tree
