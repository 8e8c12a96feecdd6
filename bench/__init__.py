"""Benchmarks for marketplace-leads: ``make bench`` (``python -m bench``) prints a Markdown report and writes
bench/RESULTS.md.

1. ingest      the HTTP function's cost per lead next to the bare SDK calls it makes (bench/ingest.py);
2. processing  the queue function's cost per lead, every storage, Dataverse, Graph and token request counted;
3. coldstart   importing function_app against importing azure.functions alone, in fresh interpreters;
4. burst       1,000 leads (10,000 with --full; a tenth repeated) through the local host: nothing lost, nothing
               done twice;
5. latency     speed to lead: single leads after quiet periods and small bursts, from the 202 to in Dynamics and
               to notified, against the project's maxPollingInterval (bench/latency.py).

Everything runs on loopback against its own Azurite (devtools.azurite) and the stand-ins of devtools.standins.
The machine is shared and noisy, so variants run interleaved and are compared as ratios measured side by side
in the same run; nothing asserts an absolute time.
"""
