"""FHIR International Patient Summary (IPS) in and out.

importer (Bundle → summary), tolerant (one resource at a time, repairing what it
can), read (datatypes → short texts), clinical (one mapper per resource type),
structure (systems and sections shared by import and export), export (summary → Bundle).
"""
