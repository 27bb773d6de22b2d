"""kvmlabs grader library: regions, skeletons, stages, rubrics, runs and reports."""
