"""People who sign in: clinicians and patients, their factors, sessions and throttling.

No Flask routes here: the pages that use these live in tagservice.web.
"""
