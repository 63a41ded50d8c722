"""Safety: assess any text a person writes for risk of suicide or self-harm, and the crisis
resources and safety plan that go with it. Other domains use `assess` from here."""

from mindspace.safety.assessment import (
    Assessment,
    AssessmentContext,
    Evidence,
    RiskLevel,
    Signal,
)
from mindspace.safety.engine import assess

__all__ = ["Assessment", "AssessmentContext", "Evidence", "RiskLevel", "Signal", "assess"]
