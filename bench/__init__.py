"""`python -m bench`: throughput, latency, start-up and memory of the mock, beside Prism and other WSGI servers.

The numbers back the README's Performance section and the choice of granian in `leadvibe-mock`.
"""
