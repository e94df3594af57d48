# Unit tests of the espfab command's own modules (daemon/cli/).
espfab_unit_test(cli_args SOURCES ${PROJECT_SOURCE_DIR}/daemon/cli/cli_args.c)
target_include_directories(test_cli_args PRIVATE ${PROJECT_SOURCE_DIR}/daemon/cli)
