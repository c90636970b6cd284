"""The record of processing (Art. 30): entities, the activity, transfers and their history."""
