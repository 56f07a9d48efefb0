"""Evaluation: BEIR folders and question sets scored with ir_measures, reports and paired comparisons. Needs the
``eval`` extra (ir_measures, scipy, matplotlib)."""
