"""Sets: turn labelled folders into shard sets, and describe sets with statistics."""
