from __future__ import annotations

import pytest
from pydantic import BaseModel

from summarizer import instructor_shims, llm  # noqa: F401  (importing llm applies the shim)


def test_shim_is_installed_and_keeps_rejecting_async_validators() -> None:
    from instructor.v2.core import patch
    from instructor.v2.validation import async_validators

    assert instructor_shims.apply()
    assert getattr(async_validators.reject_async_validators, "__summarizer_memoized__", False)
    assert patch.reject_async_validators is async_validators.reject_async_validators

    class Plain(BaseModel):
        x: int

    async_validators.reject_async_validators(Plain)
    async_validators.reject_async_validators(Plain)  # remembered: passes again

    from instructor.v2.validation.async_validators import async_field_validator

    class WithAsync(BaseModel):
        x: int

        @async_field_validator("x")
        async def check(self, v: int) -> int:
            return v

    for _ in range(2):  # a failing model fails every time, never remembered
        with pytest.raises(ValueError, match="async validators"):
            async_validators.reject_async_validators(WithAsync)
