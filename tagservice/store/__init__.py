"""Storage: the database, its models and migrations, the tag register, and the one
module (statements) that holds every raw SQL statement."""
