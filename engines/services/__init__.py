"""All business logic, grouped by the stage of a touch's life it serves.

    intake -> scoring -> planning -> journey -> sending -> outcomes -> learning

Each stage is a package whose docstring says what it owns and what it may
import: a stage imports earlier stages, the pattern store (`patterns`, read by
scoring and planning, written by learning), pure rules (`engines.rules`),
hand-written SQL (`engines.db`), models and providers; never a later stage,
the admin, webhooks or tasks. Work a stage must start in a later one goes
through `engines.services.later`. The import contracts in pyproject.toml
check all of this in `make lint`.

The modules beside the stages (content, email, sms, linkedin, voice, scorer,
allocator, detectors, dispatch, unsubscribe, manual_tasks) only re-export the
public API at its documented import paths.
"""
