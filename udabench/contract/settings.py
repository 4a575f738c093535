"""The adaptation settings, and what data each one may see.

This table is the protocol's data rule; ``protocol.build_adapt_data`` is the
only code that applies it. Target labels appear in no column: they are read by
the evaluation alone.
"""

from __future__ import annotations

from enum import Enum


class Setting(str, Enum):
    ZERO_SHOT = "zero-shot"
    SOURCE_ONLY = "source-only"
    UDA = "uda"
    SOURCE_FREE = "source-free"
    FEW_SHOT = "few-shot"

    def __str__(self) -> str:
        return self.value


#: setting -> (labeled source, unlabeled target, K labeled target shots per class)
DATA_RULES: dict[Setting, tuple[bool, bool, bool]] = {
    Setting.ZERO_SHOT: (False, False, False),
    Setting.SOURCE_ONLY: (True, False, False),
    Setting.UDA: (True, True, False),
    Setting.SOURCE_FREE: (False, True, False),
    Setting.FEW_SHOT: (False, False, True),
}


def uses_source(setting: Setting) -> bool:
    return DATA_RULES[Setting(setting)][0]
