# The reference bundle's rules (docs/rules.md) in Rego, for comparing the policy engine with Open
# Policy Agent on the same events (bench/opa.bench.ts). Not used by the pipeline.
#
# data.policy_bundle: the bundle reshaped for lookups by bench/opa/data.ts (maps keyed by id, sets as
# objects, role and agreement dates as nanosecond bounds), as the TypeScript engine compiles it.
# data.subjects[tenantId][subjectId]: the subject's state changes in arrival order.
# input.event: the access event; input.bulk_distinct: the distinct subjects of the actor's events in
# the bulk window, this one included. OPA keeps no state between evaluations, so the window is
# counted by the caller, as any OPA deployment would have to.
package custos

# An import, not `b := data.policy_bundle`: a rule would copy the whole bundle on every evaluation.
import data.policy_bundle as b

e := input.event

t := time.parse_rfc3339_ns(e.occurredAt)

staff := b.staff[e.actor.id] if e.actor.type == "staff"

processor := p if {
	e.actor.type == "processor"
	p := b.parties[e.actor.id]
	p.type == "processor"
}

known if staff

known if processor

held_grants contains g if {
	some a in staff.roles
	a.from_ns <= t
	t < a.to_excl_ns
	some g in b.roles[a.role]
}

grant_covers(g, _) if g.all_categories

grant_covers(g, c) if g.categories[c]

covered(c) if {
	some g in held_grants
	g.actions[e.action]
	grant_covers(g, c)
}

permitted(c) if {
	some g in held_grants
	g.actions[e.action]
	grant_covers(g, c)
	g.purposes[e.purpose]
}

recipient := r if {
	r := e.recipient
	r != null
}

# Parties whose agreements this access needs: a processor's own for its ordinary work, the
# recipient's for a share or export.
agreement_parties contains processor.id if {
	e.action in {"read", "create", "update", "delete"}
}

agreement_parties contains recipient.id if {
	e.action in {"share", "export"}
}

agreement_covers(a) if {
	a.purposes[e.purpose]
	a.all_categories
}

agreement_covers(a) if {
	a.purposes[e.purpose]
	not a.all_categories
	every c in e.categories {
		a.categories[c]
	}
}

matching(pid) := [a |
	some a in object.get(b.parties, [pid, "agreements"], [])
	agreement_covers(a)
]

in_force(a) if {
	a.from_ns <= t
	t < a.to_excl_ns
}

blank_basis if not e.legalBasis

blank_basis if e.legalBasis == null

blank_basis if trim_space(e.legalBasis) == ""

history := data.subjects[e.tenantId][e.subject.id]

# The kind of the latest of the subject's changes of these kinds at or before t; of equal times the
# one that arrived last.
latest(kinds) := last[count(last) - 1].change if {
	candidates := [x | some x in history; kinds[x.change]; x.at_ns <= t]
	count(candidates) > 0
	m := max([x.at_ns | some x in candidates])
	last := [x | some x in candidates; x.at_ns == m]
}

erased if {
	some x in history
	x.change == "erasure_completed"
	x.at_ns <= t
}

legal_hold if latest({"legal_hold_placed", "legal_hold_released"}) == "legal_hold_placed"

base contains "UNKNOWN_ACTOR" if not known

base contains "UNKNOWN_CATEGORY" if {
	some c in e.categories
	not b.categories[c]
}

base contains "UNKNOWN_PURPOSE" if not b.purposes[e.purpose]

base contains "PROHIBITED_PURPOSE" if b.prohibited[e.purpose]

base contains "TENANT_NOT_ASSIGNED" if {
	staff
	not staff.all_tenants
	not staff.tenants[e.tenantId]
}

base contains "ROLE_NOT_AUTHORIZED" if {
	staff
	some c in e.categories
	not covered(c)
}

base contains "ROLE_NOT_AUTHORIZED" if {
	processor
	e.action in {"export", "share", "disclose"}
}

base contains "PURPOSE_NOT_PERMITTED" if {
	staff
	some c in e.categories
	covered(c)
	not permitted(c)
}

base contains "BULK_ACCESS" if {
	staff
	e.recordCount > b.bulk.recordsPerEvent
}

base contains "BULK_ACCESS" if {
	staff
	input.bulk_distinct > b.bulk.distinctSubjects
}

base contains "NO_AGREEMENT" if {
	some pid in agreement_parties
	count(matching(pid)) == 0
}

base contains "AGREEMENT_EXPIRED" if {
	some pid in agreement_parties
	ms := matching(pid)
	count(ms) > 0
	not any_in_force(ms)
}

any_in_force(ms) if {
	some a in ms
	in_force(a)
}

base contains "UNKNOWN_RECIPIENT" if {
	recipient
	not b.parties[recipient.id]
}

base contains "RECIPIENT_TYPE_MISMATCH" if recipient.type != b.parties[recipient.id].type

base contains "DISCLOSURE_WITHOUT_LEGAL_BASIS" if {
	e.action == "disclose"
	blank_basis
}

base contains "DISCLOSURE_WITHOUT_LEGAL_BASIS" if {
	e.action == "disclose"
	not b.parties[recipient.id].type == "authority"
}

base contains "RETENTION_EXPIRED" if {
	e.action != "delete"
	collected_at := e.dataCollectedAt
	collected_at != null
	collected := time.parse_rfc3339_ns(collected_at)
	some c in e.categories
	t > collected + b.retention_ns[c]
}

base contains "PROMOTIONAL_OPT_OUT" if {
	e.purpose == "communication.promotional"
	latest({"promotional_opt_out", "promotional_opt_in"}) == "promotional_opt_out"
}

base contains "SUBJECT_ERASED" if {
	e.action != "delete"
	erased
	not erasure_exception
}

erasure_exception if {
	e.purpose == "legal.compliance"
	legal_hold
}

denied if {
	some c in base
	b.outcomes[c] == "deny"
}

codes := base | {"LEGAL_DISCLOSURE"} if {
	e.action == "disclose"
	not denied
} else := base

outcome := "deny" if denied
else := "flag" if {
	some c in codes
	b.outcomes[c] == "flag"
}
else := "allow"

# Ids of the grants and agreements that allowed the access; empty when denied.
basis contains g.id if {
	not denied
	some c in e.categories
	some g in held_grants
	g.actions[e.action]
	grant_covers(g, c)
	g.purposes[e.purpose]
}

basis contains a.id if {
	not denied
	some pid in agreement_parties
	some a in matching(pid)
	in_force(a)
}

decision := {"outcome": outcome, "codes": sort(codes), "basis": sort(basis)}

# Many events in one query (the equivalence test): input.items is a list of {event, bulk_distinct}.
decisions := [d | some item in input.items; d := decision with input as item]
