# Tests for analyzers/tls_names.c. include() this from tests/CMakeLists.txt (or paste it);
# it expects the mw_analyzers library to contain tls_names.c and export analyzers/ as an
# include directory.
add_executable(tls_names_test ${CMAKE_CURRENT_LIST_DIR}/tls_names_test.c)
target_link_libraries(tls_names_test PRIVATE mw_analyzers)
add_test(NAME tls_names COMMAND tls_names_test)

add_executable(tls_names_lookup ${CMAKE_CURRENT_LIST_DIR}/tls_names_lookup.c)
target_link_libraries(tls_names_lookup PRIVATE mw_analyzers)
add_test(NAME tls_names_openssl
         COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/tls_names_openssl.sh $<TARGET_FILE:tls_names_lookup>)
set_tests_properties(tls_names_openssl PROPERTIES SKIP_RETURN_CODE 77)

# The committed table must be what the generator makes from the committed registry CSV.
add_test(NAME tls_names_table_current
         COMMAND /usr/bin/python3 ${PROJECT_SOURCE_DIR}/tools/gen-tls-names.py --check)
