"""The outcome, measured (docs/outcome-report.md): a baseline of the application's activity logging
cost at the start of each phase, the activity read queries old vs new, and the report that puts the
migration plan's promised gains beside the measured ones.

- ``samples``: the state table ``outcome_samples`` (created locked down) and its rows;
- ``queries``: the activity read queries as data (``include/sql/outcome/queries/``), their
  parameters chosen from the data, timed;
- ``baseline``: one capture (write latency, I/O per write, read queries), stored as samples;
- ``figures``: promised vs measured, series for the plots, counts, durations;
- ``html``: the self-contained page (inline SVG); ``report``: writes the page and its JSON.
"""
