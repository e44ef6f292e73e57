"""Getting data into the warehouse's raw schemas: readers, the generator, writers."""
