"""Where the tests' files are, from any test module at any depth of tests/."""

from pathlib import Path

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
FIXTURES = TESTS / "fixtures"
VECTORS = TESTS / "vectors"
#: The public FHIR IPS examples beside the clone (../shared), present in CI too.
SHARED_IPS = ROOT.parent / "shared" / "fixtures" / "fhir-ips"
