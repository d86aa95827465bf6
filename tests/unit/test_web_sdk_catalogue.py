"""The web SDK's copy of the event catalogue (which names `track` sends typed) is the gateway's."""

from __future__ import annotations

import re
from pathlib import Path

from causality.events.catalogue import PAYLOAD_TYPES

CATALOGUE_TS = Path(__file__).resolve().parents[2] / "sdk" / "web" / "src" / "catalogue.ts"


def test_web_sdk_catalogue_matches_the_gateway() -> None:
    text = CATALOGUE_TS.read_text()
    words = " ".join(re.findall(r'"([a-z_ ]+)"', text)).split()
    assert sorted(words) == sorted(PAYLOAD_TYPES)
