# analyzers/x509_info against OpenSSL's own CT TBS (x509_ref.c), with the event fragments of
# output/ev_x509.c checked as JSON. include() this from tests/CMakeLists.txt; the certificates
# are in tests/data/x509.
add_executable(x509_diff_test ${CMAKE_CURRENT_LIST_DIR}/x509_diff_test.c
                              ${CMAKE_CURRENT_LIST_DIR}/x509_ref.c)
target_include_directories(x509_diff_test PRIVATE ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(x509_diff_test PRIVATE mw_output mw_analyzers mw_base)
add_test(NAME unit_x509_diff
         COMMAND x509_diff_test ${CMAKE_CURRENT_LIST_DIR}/../data/x509)
set_tests_properties(unit_x509_diff PROPERTIES TIMEOUT 300)

# analyzers/x509_decode against d2i_X509 (the short decoder walk gives the same certificates)
add_executable(x509_decode_test ${CMAKE_CURRENT_LIST_DIR}/x509_decode_test.c)
target_include_directories(x509_decode_test PRIVATE ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(x509_decode_test PRIVATE mw_analyzers mw_base)
add_test(NAME unit_x509_decode
         COMMAND x509_decode_test ${CMAKE_CURRENT_LIST_DIR}/../data/x509)
