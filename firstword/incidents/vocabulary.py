"""The fixed vocabularies of an incident: kinds, severities, states, statuses, data categories."""

from __future__ import annotations

from enum import StrEnum


class IncidentKind(StrEnum):
    OUTAGE = "outage"
    PAYMENT_DISRUPTION = "payment_disruption"
    RANSOMWARE = "ransomware"
    CUSTOMER_DATA_BREACH = "customer_data_breach"
    CARD_BREACH = "card_breach"  # card / point-of-sale breach
    THIRD_PARTY_BREACH = "third_party_breach"


class Severity(StrEnum):
    SEV1 = "SEV1"
    SEV2 = "SEV2"
    SEV3 = "SEV3"
    SEV4 = "SEV4"


class IncidentState(StrEnum):
    INVESTIGATING = "investigating"
    IDENTIFIED = "identified"
    MONITORING = "monitoring"
    RESOLVED = "resolved"
    POSTMORTEM = "postmortem"


# Which state may follow which. Moving backwards (monitoring -> investigating) is allowed
# because incidents do relapse; resolved may be reopened; a postmortem is final.
TRANSITIONS: dict[IncidentState, frozenset[IncidentState]] = {
    IncidentState.INVESTIGATING: frozenset(
        {IncidentState.IDENTIFIED, IncidentState.MONITORING, IncidentState.RESOLVED}
    ),
    IncidentState.IDENTIFIED: frozenset(
        {IncidentState.INVESTIGATING, IncidentState.MONITORING, IncidentState.RESOLVED}
    ),
    IncidentState.MONITORING: frozenset(
        {IncidentState.INVESTIGATING, IncidentState.IDENTIFIED, IncidentState.RESOLVED}
    ),
    IncidentState.RESOLVED: frozenset({IncidentState.INVESTIGATING, IncidentState.POSTMORTEM}),
    IncidentState.POSTMORTEM: frozenset(),
}

OPEN_STATES = frozenset(
    {IncidentState.INVESTIGATING, IncidentState.IDENTIFIED, IncidentState.MONITORING}
)


class ComponentStatus(StrEnum):
    """Atlassian Statuspage's component status vocabulary, so public JSON matches it."""

    OPERATIONAL = "operational"
    DEGRADED_PERFORMANCE = "degraded_performance"
    PARTIAL_OUTAGE = "partial_outage"
    MAJOR_OUTAGE = "major_outage"
    UNDER_MAINTENANCE = "under_maintenance"


# Worst first, for rolling up an overall status.
STATUS_RANK = {
    ComponentStatus.MAJOR_OUTAGE: 4,
    ComponentStatus.PARTIAL_OUTAGE: 3,
    ComponentStatus.DEGRADED_PERFORMANCE: 2,
    ComponentStatus.UNDER_MAINTENANCE: 1,
    ComponentStatus.OPERATIONAL: 0,
}


class DataCategory(StrEnum):
    NAME = "name"
    EMAIL = "email"
    PHONE = "phone"
    POSTAL_ADDRESS = "postal_address"
    DATE_OF_BIRTH = "date_of_birth"
    ORDER_HISTORY = "order_history"
    PAYMENT_CARD_NUMBER = "payment_card_number"
    CARD_SECURITY_CODE = "card_security_code"
    CARD_EXPIRY = "card_expiry"
    ACCOUNT_CREDENTIALS = "account_credentials"
    LOYALTY_ID = "loyalty_id"
    BANK_ACCOUNT = "bank_account"
    GOVERNMENT_ID = "government_id"
    HEALTH_DATA = "health_data"


class IncidentRole(StrEnum):
    """Roles people play on one incident (distinct from staff permission roles)."""

    INCIDENT_COMMANDER = "incident_commander"
    COMMUNICATIONS = "communications"
    LEGAL = "legal"
    SECURITY = "security"
    CUSTOMER_SERVICE = "customer_service"


class ClockEvent(StrEnum):
    """Milestones of the transparency clock."""

    DETECTED = "detected"
    ACKNOWLEDGED = "acknowledged"  # first public word
    CUSTOMERS_NOTIFIED = "customers_notified"
    CONTAINED = "contained"
    RESOLVED = "resolved"
