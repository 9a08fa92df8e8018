"""The simulate stage: what a program would pay, before it launches.

Takes a compiled program and a scenario (a TOML file: who refers, how many
leads, how they convert and pay) or a real ledger; gives, over many seeded
synthetic ledgers each scored by the real engine, the distribution of
payouts, pending liability, attributed revenue, cost per customer and ROI,
per unit and per month (docs/simulate.md). Modules: `scenario` (the format,
its schema and its errors), `distributions` (seeded, exact draws),
`generate` (a scenario's synthetic ledger), `measure` (one run's figures),
`aggregate` (percentiles over runs), `run` (runs, in worker processes, in
one order whatever their number) and `render` (text for people).
"""
