"""The steps of a run, in order. Each module's `run(ctx)` reads as load -> process -> save."""

from pipelines.steps import facts, plausibility, questions, reference, registry, rejects, submissions

# (name shown in the progress bar, step). Order matters: each step reads what the ones before it saved.
STEPS = (
    ("reference", reference.run),
    ("registry", registry.run),
    ("questions", questions.run),
    ("submissions", submissions.run),
    ("facts", facts.run),
    ("plausibility", plausibility.run),
    ("rejects", rejects.run),
)
