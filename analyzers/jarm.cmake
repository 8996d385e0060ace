# JARM active fingerprint: library, standalone CLI, unit/lab/fuzz tests.
# Include from the top-level CMakeLists.txt after add_subdirectory(base):
#   include(analyzers/jarm.cmake)
set(JARM_DIR ${CMAKE_CURRENT_LIST_DIR}/..)

add_library(mw_jarm STATIC ${JARM_DIR}/analyzers/jarm.c)
target_include_directories(mw_jarm PUBLIC ${JARM_DIR}/analyzers)
target_link_libraries(mw_jarm PUBLIC mw_base OpenSSL::Crypto)

add_executable(mitmwatch-jarm ${JARM_DIR}/tools/probe_jarm_main.c)
target_link_libraries(mitmwatch-jarm PRIVATE mw_jarm)

if(BUILD_TESTING)
  add_executable(jarm_test ${JARM_DIR}/tests/unit/jarm_test.c)
  target_link_libraries(jarm_test PRIVATE mw_jarm)
  add_test(NAME unit.jarm COMMAND jarm_test ${JARM_DIR}/tests/data/jarm)

  add_test(NAME lab.jarm COMMAND ${JARM_DIR}/tests/lab/jarm_test.sh $<TARGET_FILE:mitmwatch-jarm>)
  set_tests_properties(lab.jarm PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300 RUN_SERIAL TRUE)

  # The fuzz target also runs under plain ctest over its seeds (no libFuzzer needed).
  if(MW_FUZZ)
    add_executable(fuzz_jarm_parse ${JARM_DIR}/tests/fuzz/fuzz_jarm_parse.c)
    target_link_libraries(fuzz_jarm_parse PRIVATE mw_jarm)
    target_link_options(fuzz_jarm_parse PRIVATE -fsanitize=fuzzer)
  else()
    add_executable(fuzz_jarm_parse ${JARM_DIR}/tests/fuzz/fuzz_jarm_parse.c
                                   ${JARM_DIR}/tests/fuzz/jarm_onefile.c)
    target_link_libraries(fuzz_jarm_parse PRIVATE mw_jarm)
  endif()
  file(GLOB JARM_FUZZ_SEEDS ${JARM_DIR}/tests/fuzz/seeds/jarm_parse/*)
  add_test(NAME fuzz.jarm_parse.seeds COMMAND fuzz_jarm_parse ${JARM_FUZZ_SEEDS})
endif()
