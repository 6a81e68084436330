"""CSV stock sync: upload a file of SKU counts, preview the diff, apply it in batches, undo it."""
