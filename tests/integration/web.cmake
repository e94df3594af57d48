# espfab-web in a real browser: headless Chromium driven over WebDriver
# (chromedriver) against espfabd with simulated devices. Screenshots are kept
# in <build>/artifacts/web. Chromium missing or not starting fails the test.
add_test(NAME integration_web_browser
  COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/integration/web_browser.py $<TARGET_FILE_DIR:espfab-web>
          ${CMAKE_BINARY_DIR}/artifacts/web)
set_tests_properties(integration_web_browser PROPERTIES LABELS integration TIMEOUT 240)

# The screen holds no database and no serial port: its binary does not even
# link the libraries for them.
add_test(NAME integration_web_isolation
  COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/integration/web_isolation.sh $<TARGET_FILE:espfab-web>)
set_tests_properties(integration_web_isolation PROPERTIES LABELS integration TIMEOUT 60)

# The unit file as systemd reads it, and its sandboxing.
add_test(NAME integration_web_unit
  COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/integration/web_unit.sh $<TARGET_FILE_DIR:espfab-web>
          ${CMAKE_BINARY_DIR}/daemon/web/espfab-web.service)
set_tests_properties(integration_web_unit PROPERTIES LABELS integration TIMEOUT 60)
