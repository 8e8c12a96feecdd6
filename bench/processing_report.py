"""§2 Processing, the report: the passes side by side, storage requests by phase, one lead's sequence of
requests, and which of them the same outcome would not need."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from bench.processing_trace import Event, LeadTrace, Pass, storage_event
from bench.report import Section, Target, median, ms, percentile, plural, table


def _spread(values: list[int]) -> str:
    """Mean per lead, with min–max when leads differ."""
    mean = sum(values) / len(values)
    return f"{mean:.2f}" if min(values) == max(values) else f"{mean:.2f} ({min(values)}–{max(values)})"


def _slimming(events: list[Event]) -> tuple[list[str], int, int]:
    """Storage requests in one lead's sequence that the same outcome would not need: (notes, reads, writes).

    Two rules, both about our own requests to our own entity:
    - a read after one of our writes re-reads what we wrote: the write's response carries the new ETag;
    - writes with no Dataverse or Graph call between them can be one merge (the later one's condition kept).
    """
    notes = []
    numbered = list(enumerate(events, 1))
    table_reads = [(n, e) for n, e in numbered if e.service == "table" and e.kind == "read"]
    table_writes = [(n, e) for n, e in numbered if e.service == "table" and e.kind == "write"]
    needed_reads = len(table_reads)
    for n, _ in table_reads:
        earlier = [w for w, _ in table_writes if w < n]
        if earlier:
            needed_reads -= 1
            notes.append(
                f"read #{n} re-reads the entity right after our own write #{earlier[-1]}: that write's response "
                "already carries the new ETag (LeadTable.update returns it), so the read can go"
            )
    groups: list[list[int]] = []
    for n, _ in table_writes:
        external = any(not e.storage and groups and groups[-1][-1] < m < n for m, e in numbered)
        if groups and not external:
            groups[-1].append(n)
        else:
            groups.append([n])
    for group in groups:
        if len(group) > 1:
            writes = " + ".join(f"#{n}" for n in group)
            notes.append(
                f"writes {writes} have no Dataverse or Graph call between them: one merge could carry them all "
                "(keeping the ETag condition where there is one)"
            )
    return notes, needed_reads, len(groups)


def _per_lead(p: Pass, service: str, kind: str | None = None) -> str:
    return _spread([t.count(service, kind) for t in p.traces])


@dataclass(frozen=True)
class _Steady:
    """The storage requests of one lead in steady state, and how few the same outcome would need."""

    reads: int
    writes: int
    notes: list[str]
    min_reads: int
    min_writes: int


def _steady(counted: Pass) -> _Steady:
    steady = counted.traces[-1]  # the last lead: tokens and connections long established
    notes, min_reads, min_writes = _slimming(steady.events)
    reads = steady.count("table", "read") + steady.count("queue", "read")
    writes = steady.count("table", "write") + steady.count("queue", "write")
    return _Steady(reads, writes, notes, min_reads, min_writes)


def _method(count: int) -> str:
    return (
        f"{count} leads per pass, received through the HTTP function, then processed one at a time by calling "
        "the queue function as the worker does. Each pass starts as a fresh worker (new storage clients, HTTP "
        "session and token cache) on a fresh table and queue, with the Dataverse and Graph stand-ins (which answer "
        "at once: leads/s is the app's and storage's cost, not the services' latency). "
        "The *timed* pass reaches Azurite directly. The *counted* pass sends table and queue traffic through a "
        "small counting reverse proxy (devtools/storage_proxy.py), so storage requests are counted on the wire, "
        "as Azurite receives them, retries included (Azurite itself is started `--silent`, and leads/ is left "
        "untouched); Dataverse, Graph and token requests come from the stand-ins' logs. Requests are attributed "
        "to a lead by time (processing is sequential). Per-lead figures are means, with min–max when leads differ."
    )


def _passes_table(count: int, direct: Pass, counted: Pass) -> str:
    passes = (direct, counted)
    reads = [t.count("table", "read") + t.count("queue", "read") for t in counted.traces]
    writes = [t.count("table", "write") + t.count("queue", "write") for t in counted.traces]
    rows = [
        ("Leads processed (ended `done`)", *(f"{p.done} of {count}" for p in passes)),
        ("Leads/s (one at a time)", *(f"{p.rate:.0f}" for p in passes)),
        ("Latency p50 / p99 ms", *(f"{ms(median(p.latencies))} / {ms(percentile(p.latencies, 0.99))}" for p in passes)),
        ("Dataverse requests per lead", *(_per_lead(p, "Dataverse") for p in passes)),
        ("Graph requests per lead", *(_per_lead(p, "Graph") for p in passes)),
        ("Leads in Dataverse / mails sent", *(f"{p.dataverse_leads} / {p.mails}" for p in passes)),
        (
            "Token requests in the pass, per scope",
            *("; ".join(f"{scope}: {n}" for scope, n in sorted(p.token_scopes.items())) or "none" for p in passes),
        ),
        ("Storage reads per lead", "—", _spread(reads)),
        ("Storage writes per lead", "—", _spread(writes)),
    ]
    return table(["", "Timed (direct)", "Counted (proxy)"], rows)


def _by_phase(count: int, counted: Pass) -> str:
    breakdown: Counter[tuple[str, str, str, str, str]] = Counter()
    for call in counted.intake_calls:
        event = storage_event(call)
        breakdown[("receive (HTTP function)", event.service, event.request, event.condition, event.kind)] += 1
    for trace in counted.traces:
        for event in trace.events:
            if event.storage:
                breakdown[("process (queue function)", event.service, event.request, event.condition, event.kind)] += 1
    breakdown_rows = [(*key, f"{n / count:.2f}") for key, n in breakdown.items()]
    return (
        "Storage requests per lead, by phase (counted pass; the table and queue were created beforehand, as "
        "they exist in production). Not included: the Functions runtime's own queue requests per message "
        "(one receive per batch of up to `batchSize`, one delete), which the app cannot change:\n\n"
        + table(["Phase", "Service", "Operation", "Condition", "Read/write", "Per lead"], breakdown_rows, (5,))
    )


def _sequence(count: int, counted: Pass) -> str:
    steady = counted.traces[-1]
    sequence_rows = [(n, e.service, e.request, e.condition, e.writes, e.answer) for n, e in enumerate(steady.events, 1)]
    same = sum(1 for t in counted.traces if [e.signature for e in t.events] == [e.signature for e in steady.events])
    return (
        f"The sequence for one lead in steady state (the last of the counted pass; {same} of {count} leads "
        "made exactly this sequence, the first one also fetched the tokens):\n\n"
        + table(["#", "Service", "Request", "Condition", "Properties written", "Answer"], sequence_rows, (0,))
    )


def _routed_note(count: int, routed: Pass, routed_steady: int, routed_lookups: int) -> str:
    return (
        f"With routing (an owner team and a campaign named by the rules) and `DYNAMICS_LINK_CONTACTS=true` ("
        f"{count} more leads, half of them with an existing contact): Dataverse requests per lead "
        f"{_per_lead(routed, 'Dataverse')}; the last lead made {routed_steady} (the contact query and the create); "
        f"name look-ups in the whole pass: {routed_lookups} (one per name, on the first lead)."
    )


def _returning(attached: Pass) -> tuple[int, int]:
    """Dataverse requests of the last new customer and of the last returning one (steady state)."""
    half = len(attached.traces) - len(attached.traces) // 2
    return attached.traces[half - 1].count("Dataverse"), attached.traces[-1].count("Dataverse")


def _returning_note(count: int, attached: Pass) -> str:
    people = count - count // 2
    last_new, last_again = attached.traces[people - 1], attached.traces[-1]

    def sequence(trace: LeadTrace) -> str:
        return ", ".join(e.request for e in trace.events if e.service == "Dataverse")

    def storage(trace: LeadTrace) -> str:
        reads = trace.count("table", "read") + trace.count("queue", "read")
        return f"{plural(reads, 'read')} + {plural(trace.count('table', 'write'), 'write')}"

    return (
        f"With `DYNAMICS_DUPLICATES=attach` ({count} more leads through the counting proxy: {people} new people, then "
        f"{count // 2} of them again, each a returning customer with an open lead): Dataverse requests per lead "
        f"{_per_lead(attached, 'Dataverse')}; {attached.dataverse_leads} leads in Dynamics for {people} people. The "
        f"last new customer made {len(sequence(last_new).split(', '))} ({sequence(last_new)}) and "
        f"{storage(last_new)} in storage; the last returning one ({sequence(last_again)}) {storage(last_again)}. "
        "Beside the default's, the person's claim is a table insert and a delete, and the outcome is recorded before "
        "the claim goes."
    )


def _slimming_note(steady: _Steady) -> str:
    takes = f"Processing one lead takes {plural(steady.reads, 'storage read')} and {plural(steady.writes, 'write')}. "
    if not steady.notes:
        return takes + (
            "No request in it is redundant by the two rules checked (re-read after own write; writes "
            "with no external call between them)."
        )
    return takes + (
        "Candidates to drop, from the sequence above:\n\n"
        + "\n".join(f"- {note}" for note in steady.notes)
        + f"\n\nWith both, the same outcome would take {plural(steady.min_reads, 'read')} and "
        f"{plural(steady.min_writes, 'write')}: the "
        "claim (conditional, carrying DynamicsLeadId) before the mail, and NotifiedAt with the final "
        "Status after it. Those two are what the state machine needs: the claim keeps the mail at most "
        "once across workers, the last write records it."
    )


def _targets(
    direct: Pass,
    counted: Pass,
    routed: Pass,
    steady: _Steady,
    routed_steady: int,
    routed_lookups: int,
    attached: Pass,
) -> list[Target]:
    passes = (direct, counted)
    exact = all(t.count("Dataverse") == 1 and t.count("Graph") == 1 for p in passes for t in p.traces)
    max_tokens = max((n for p in passes for n in p.token_scopes.values()), default=0)
    return [
        Target(
            "Dataverse and Graph requests per lead (steady state)",
            "exactly 1 each",
            f"Dataverse {_per_lead(counted, 'Dataverse')}, Graph {_per_lead(counted, 'Graph')} "
            f"(timed pass: {_per_lead(direct, 'Dataverse')}, {_per_lead(direct, 'Graph')})",
            exact,
        ),
        Target("Token requests per scope, per worker", "≤ 1", f"at most {max_tokens}", max_tokens <= 1),
        Target(
            "Dataverse requests per lead, routing and contact linking on (steady state)",
            "2 (contact query + create); names looked up once",
            f"{routed_steady} on the last lead, mean {_per_lead(routed, 'Dataverse')}; {routed_lookups} name look-ups",
            routed_steady == 2 and routed_lookups == 2,
        ),
        Target(
            "Dataverse requests per lead, returning customers attached (DYNAMICS_DUPLICATES=attach, steady state)",
            "2: one query plus one create (new), or one query plus one note (returning)",
            "new customer {}, returning customer {}; mean {}".format(
                *_returning(attached), _per_lead(attached, "Dataverse")
            ),
            _returning(attached) == (2, 2),
        ),
        Target(
            "Storage requests per processed lead",
            f"1 read; {steady.min_writes} writes (none that could merge)",
            f"{plural(steady.reads, 'read')} + {plural(steady.writes, 'write')}",
            steady.reads <= 1 and steady.writes <= steady.min_writes,
        ),
    ]


def section(count: int, direct: Pass, counted: Pass, routed: Pass, attached: Pass) -> Section:
    """§2 of the report, from the timed pass, the counted pass, the pass with routing and contact linking on, and the
    pass with returning customers attached."""
    steady = _steady(counted)
    routed_steady = routed.traces[-1].count("Dataverse")
    routed_lookups = sum(t.count("Dataverse") for t in routed.traces) - 2 * count
    return Section(
        "2. Processing cost per lead",
        _method(count),
        [
            _passes_table(count, direct, counted),
            _by_phase(count, counted),
            _sequence(count, counted),
            _routed_note(count, routed, routed_steady, routed_lookups),
            _returning_note(count, attached),
            _slimming_note(steady),
        ],
        _targets(direct, counted, routed, steady, routed_steady, routed_lookups, attached),
    )
