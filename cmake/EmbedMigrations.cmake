# Writes OUT: a C++ file defining
#   const agentry::Migration NAME[]; const size_t NAMECount;
# from the numbered SQL files in DIR (0001_name.sql, 0002_…), in order.
file(GLOB files ${DIR}/*.sql)
list(SORT files)
set(body "// Generated from ${DIR}; do not edit.\n#include \"agentry/store/migration.h\"\n\nnamespace agentry {\n\nconst Migration ${NAME}[] = {\n")
foreach(f ${files})
  get_filename_component(base ${f} NAME_WE)
  string(REGEX MATCH "^[0-9]+" num ${base})
  math(EXPR num "${num} + 0")
  file(READ ${f} sql)
  string(APPEND body "    {${num}, \"${base}\", R\"agentry_sql(${sql})agentry_sql\"},\n")
endforeach()
list(LENGTH files count)
string(APPEND body "};\nconst size_t ${NAME}Count = ${count};\n\n}  // namespace agentry\n")
file(WRITE ${OUT}.tmp "${body}")
file(COPY_FILE ${OUT}.tmp ${OUT} ONLY_IF_DIFFERENT)
