"""forms: business types and their versioned form schemas, data sources, form records."""
