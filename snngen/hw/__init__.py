"""The hardware: Amaranth 0.5 components generated from a hardware plan."""

from .plan import GroupPlan, HardwarePlan, plan_hardware

__all__ = ["GroupPlan", "HardwarePlan", "plan_hardware"]
