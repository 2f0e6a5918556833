"""`python -m bench`: throughput, latency, start-up and memory of the mock, beside Prism.

The numbers back docs/measurements.md (Performance). Modules, in the order they build on each other:
`common` (paths, progress, environment), `load` (the requests and wrk), `processes` (servers as process
groups, their memory and CPU), `targets` (the mock and Prism as servers to launch), `scenarios` (the
sections: what is launched and measured), `report` (targets met or missed, markdown and JSON), and
`__main__` (the command line).
"""
