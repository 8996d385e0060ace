# Tests for the verdicts (rules/pol_*, store_known, rule_*). include() this from
# tests/CMakeLists.txt: include(${CMAKE_CURRENT_SOURCE_DIR}/unit/verdicts.cmake)
foreach(t pol_config rule_name rule_engine)
  add_executable(${t}_test ${CMAKE_CURRENT_LIST_DIR}/${t}_test.c)
  target_include_directories(${t}_test PRIVATE ${CMAKE_CURRENT_LIST_DIR})
  target_link_libraries(${t}_test PRIVATE mw_output mw_rules mw_analyzers mw_capture mw_base)
endforeach()
add_test(NAME unit_pol_config
         COMMAND pol_config_test ${PROJECT_SOURCE_DIR}/rules/example-policy.yaml)
add_test(NAME unit_rule_name COMMAND rule_name_test)
add_test(NAME unit_rule_engine COMMAND rule_engine_test ${CMAKE_CURRENT_BINARY_DIR}/rule_engine_tmp)

# Real servers (nginx, openssl s_server) serving every test certificate, captured in a private
# netns, judged by mitmwatch -c policy.yaml: the exact rule.id set per connection. Root.
add_test(NAME lab_verdicts
         COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/../lab/run_verdicts_lab.sh
                 $<TARGET_FILE:mitmwatch> ${CMAKE_CURRENT_BINARY_DIR})
set_tests_properties(lab_verdicts PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 180 LABELS "lab;root"
                     RUN_SERIAL TRUE)

# tls.starttls_missing: a real prosody offering STARTTLS and one without the offer (as after
# stripping), clients that authenticate in plaintext (the alerts, exact), a health check and an
# upgraded s_client session (silent); `check` and a scheduled cert probe of the service speak
# its starttls. Own network namespace, port 5222 inside it; ~2.5 s. Root.
add_test(NAME lab_starttls_missing
         COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/../lab/starttls_missing_test.sh
                 $<TARGET_FILE:mitmwatch> ${CMAKE_CURRENT_BINARY_DIR})
set_tests_properties(lab_starttls_missing PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 60
                     LABELS "lab;root")

# The policy's command-line contract: exact error messages and exit 2, policy-free alerts.
add_test(NAME verdicts_cli
         COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/../verdicts_cli_test.sh $<TARGET_FILE:mitmwatch>
                 ${PROJECT_SOURCE_DIR}/tests/data/demo.pcap)
set_tests_properties(verdicts_cli PROPERTIES SKIP_RETURN_CODE 77)

# Fuzz targets: the policy parser, judging every handshake of arbitrary frames, and the CT
# log list loader. Same pattern as tests/fuzz/CMakeLists.txt.
foreach(t policy verdicts loglist)
  if(MW_FUZZ)
    add_executable(fuzz-${t} ${CMAKE_CURRENT_LIST_DIR}/../fuzz/fuzz_${t}.c)
    target_link_options(fuzz-${t} PRIVATE -fsanitize=fuzzer)
  else()
    add_executable(fuzz-${t} ${CMAKE_CURRENT_LIST_DIR}/../fuzz/fuzz_${t}.c
                   ${CMAKE_CURRENT_LIST_DIR}/../fuzz/onefile.c)
  endif()
  target_link_libraries(fuzz-${t} PRIVATE mw_output mw_rules mw_analyzers mw_capture mw_base)
  if(NOT MW_FUZZ)
    add_test(NAME fuzz_corpus_${t}
             COMMAND fuzz-${t} ${CMAKE_CURRENT_LIST_DIR}/../fuzz/corpus/${t})
  endif()
endforeach()
