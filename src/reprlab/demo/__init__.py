"""``reprlab demo``: both source texts end to end on bundled data, cached per stage, with a report."""

from reprlab.demo.runner import DemoConfig, DemoResult, run_demo, run_stage, select_stages
from reprlab.demo.stage import Stage, StageContext
from reprlab.demo.stages import STAGES

__all__ = ["DemoConfig", "DemoResult", "run_demo", "run_stage", "select_stages", "Stage", "StageContext", "STAGES"]
