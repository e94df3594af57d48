# espfab watch on an emulated terminal (watch_tty.py, python3-pyte): sizes,
# SIGWINCH, coloured text states, reconnect after a daemon restart.
add_test(NAME integration_watch_tty
  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/integration/watch_tty.py $<TARGET_FILE_DIR:espfabd>
          ${CMAKE_SOURCE_DIR}/examples/lamp)
set_tests_properties(integration_watch_tty PROPERTIES LABELS integration TIMEOUT 300)
