# Edge-case pcap tests (issue 2). From tests/CMakeLists.txt: include(pcap/edge_tests.cmake)
# pcap_edge_committed: the small captures in tests/pcap/cases/, no root needed.
add_test(NAME pcap_edge_committed
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/pcap/run_committed.sh $<TARGET_FILE:mitmwatch>
                 ${CMAKE_CURRENT_BINARY_DIR}/pcap-edge-committed)
set_tests_properties(pcap_edge_committed PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 120)
# pcap_edge_generated: real openssl handshakes captured in a private netns, mutated, checked
# (root, tcpdump, tshark, openssl, iproute2, ethtool; exit 77 without them).
add_test(NAME pcap_edge_generated
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/pcap/run_edge.sh $<TARGET_FILE:mitmwatch>
                 ${CMAKE_CURRENT_BINARY_DIR}/pcap-edge-work)
set_tests_properties(pcap_edge_generated PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300)
# pcap_oddities: hand-made captures of proxy dialogues and TLS/TCP oddities (issue 13), made
# at test time by make_oddities.py (python3-cryptography), checked against oddities.json and,
# when installed, tshark. No root needed.
add_test(NAME pcap_oddities
         COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/pcap/check_oddities.py
                 $<TARGET_FILE:mitmwatch> ${CMAKE_CURRENT_BINARY_DIR}/pcap-oddities)
set_tests_properties(pcap_oddities PROPERTIES TIMEOUT 120 LABELS pcap)
