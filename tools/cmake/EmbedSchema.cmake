# Writes ${OUT} (a header) with every schema/NNN_*.sql migration as a string
# literal, in file-name order, so the binary carries its own schema.
# Usage: embed_schema(<schema dir> <output header>)
function(embed_schema schema_dir out)
  file(GLOB files CONFIGURE_DEPENDS "${schema_dir}/[0-9][0-9][0-9]_*.sql")
  list(SORT files)
  # Re-run the configure step (and so this function) when a migration changes.
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${files})
  set(body "// Generated from schema/*.sql by EmbedSchema.cmake; do not edit.\n#pragma once\n#include <array>\n#include <string_view>\nnamespace dmarq::store::schema {\n")
  string(APPEND body "inline constexpr std::array<std::string_view, ")
  list(LENGTH files n)
  string(APPEND body "${n}> kMigrations{\n")
  foreach(f IN LISTS files)
    file(READ "${f}" sql)
    string(APPEND body "R\"dmarq_sql(${sql})dmarq_sql\",\n")
  endforeach()
  string(APPEND body "};\n}  // namespace dmarq::store::schema\n")
  file(CONFIGURE OUTPUT "${out}" CONTENT "${body}" @ONLY)
endfunction()
