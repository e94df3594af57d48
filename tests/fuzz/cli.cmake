# Fuzzer of the espfab command's option parser (daemon/cli/cli_args.c): every
# command line an operator or a script can type goes through it.
espfab_fuzz_target(cli_args
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_cli_args.c ${PROJECT_SOURCE_DIR}/daemon/cli/cli_args.c
  CORPUS ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/cli_args)
if(ESPFAB_FUZZ)
  target_include_directories(fuzz_cli_args PRIVATE ${PROJECT_SOURCE_DIR}/daemon/cli)
endif()
