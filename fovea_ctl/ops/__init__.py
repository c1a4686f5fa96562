"""The operator's everyday use cases, one module per verb family (restart/stop/start, exec, stats, prune,
doctor, backup schedule). Each is callable without Typer; `fovea_ctl/cli/` only parses and renders.

They build on the reconciler (`Project.up`, the plan with causes), the engine adapter and the backup
package rather than beside them: `start` is `up` of the stopped services, `stop` is `down`'s ordered
stop without the removal, `psql`/`redis-cli` use the same in-container credentials as backup's.
"""
