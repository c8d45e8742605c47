"""Derived alerts look each medicine up once; what they derive is unchanged.

Every unlock answers with the critical alerts (tagservice.summary.alerts), so the
terminology work per medicine counts in bench/unlock.py's CPU per unlock.
"""

from __future__ import annotations

from tagservice.summary import alerts, terms

MEDICINES = ["Warfarin 5 mg", "Insulin glargine", "Prednisolone 5 mg", "Paracetamol", "Apixaban"]


def _summary() -> dict:
    return {
        "alerts": [],
        "medications": [{"name": name} for name in MEDICINES],
        "conditions": [{"name": "Addison's disease"}],
    }


def test_each_medicine_is_looked_up_once(monkeypatch):
    looked_up: list[str] = []
    original = terms.medicine_groups

    def counting(name, codings=()):
        looked_up.append(name)
        return original(name, codings)

    monkeypatch.setattr(terms, "medicine_groups", counting)
    alerts.derived_alerts(_summary())
    assert looked_up == MEDICINES


def test_the_alerts_derived_are_those_each_medicine_raises_on_its_own():
    derived = {alert["code"] for alert in alerts.derived_alerts(_summary())}
    by_medicine = set().union(*(terms.medicine_alert_codes(name) for name in MEDICINES))
    assert by_medicine == {"anticoagulant", "insulin-diabetes"}
    assert derived == by_medicine | {"adrenal-insufficiency"}


def test_an_alert_already_ticked_is_not_derived_again():
    summary = _summary() | {"alerts": [{"code": "anticoagulant"}]}
    assert "anticoagulant" not in {a["code"] for a in alerts.derived_alerts(summary)}
