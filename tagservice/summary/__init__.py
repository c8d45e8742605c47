"""The emergency summary itself: its model, what is critical, and how it fits in a tag.

model (validation, priority order) · terms and alerts (the clinical concepts that
change emergency treatment) · compact, vocab, packing (the binary encoding inside a
tag) · capacity and fit (how full a tag is; what to leave off) · display (the page).
"""
