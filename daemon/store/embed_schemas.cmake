# cmake -DOUT=file.c -DFILES="a.sql|b.sql" [-DTABLE=name -DCOUNT=name] -P embed_schemas.cmake
# Writes a C table of the migrations: {version, name, sql}. The version is the
# file name's leading number, so 001_initial.sql is user_version 1. TABLE
# names the table (store_migrations; store_pg_migrations for schemas/pg).
string(REPLACE "|" ";" FILES "${FILES}")
if(NOT TABLE)
  set(TABLE store_migrations)
  set(COUNT store_n_migrations)
endif()
set(body "/* Generated from the schemas/ migrations by embed_schemas.cmake: do not edit. */\n#include \"store_int.h\"\n\n")
set(table "")
set(n 0)
set(last "")
foreach(f IN LISTS FILES)
  get_filename_component(base ${f} NAME)
  string(REGEX MATCH "^[0-9]+" ver ${base})
  math(EXPR ver "${ver}")
  math(EXPR want "${n} + 1")
  # PostgreSQL migrations only need to rise (pg_migrate applies every one
  # above the database's version): branches are given numbers ahead of
  # their merge, so one may land before a lower one does.
  if(TABLE STREQUAL "store_pg_migrations" AND NOT last STREQUAL "" AND ver GREATER last)
  elseif(NOT ver EQUAL want)
    message(FATAL_ERROR "schemas: ${base} should be version ${want}: migrations are numbered 001, 002, ... without gaps")
  endif()
  set(last ${ver})
  file(READ ${f} hex HEX)
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," hex "${hex}")
  string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n" hex "${hex}")
  string(APPEND body "static const unsigned char sql_${n}[] = {\n${hex}0x00};\n")
  string(APPEND table "\t{${ver}, \"${base}\", sql_${n}},\n")
  math(EXPR n "${n} + 1")
endforeach()
string(APPEND body "\nconst struct store_migration ${TABLE}[] = {\n${table}};\nconst size_t ${COUNT} = ${n};\n")
file(WRITE ${OUT}.tmp "${body}")
file(RENAME ${OUT}.tmp ${OUT})
