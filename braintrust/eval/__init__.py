"""``Eval()`` and everything around it: cases, scorers, hooks, the async engine, reporters and the
registry ``braintrust eval`` uses. The public names are re-exported by ``braintrust.framework``."""

from braintrust.eval.api import Eval, EvalAsync, default_error_score_handler
from braintrust.eval.cases import BaseExperiment, EvalCase
from braintrust.eval.evaluator import Evaluator
from braintrust.eval.hooks import EvalHooks
from braintrust.eval.reporters import Reporter, ReporterDef
from braintrust.eval.results import EvalResult, EvalResultWithSummary, EvalScorerArgs, EvalTimeoutError
from braintrust.eval.threads import set_thread_pool_max_workers

__all__ = [
    "BaseExperiment",
    "Eval",
    "EvalAsync",
    "EvalCase",
    "EvalHooks",
    "EvalResult",
    "EvalResultWithSummary",
    "EvalScorerArgs",
    "EvalTimeoutError",
    "Evaluator",
    "Reporter",
    "ReporterDef",
    "default_error_score_handler",
    "set_thread_pool_max_workers",
]
