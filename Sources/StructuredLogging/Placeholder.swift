// StructuredLogging
