# Tests: ctest names follow the module (key_unit, config_unit, broker_restart,
# config_fuzz, deps_script, lab_..., quickstart_doc, ..._interop). Labels:
# unit, integration, scripts, fuzz, lab (root + namespaces, serial), interop
# (real Tailscale programs; MSOCK_SKIP_INTEROP=1 leaves them out of
# scripts/test.sh), slow (kept out of scripts/test.sh).
enable_testing()
pkg_check_modules(CMOCKA REQUIRED IMPORTED_TARGET cmocka)

set(MSOCK_TEST_ENV "ASAN_OPTIONS=detect_leaks=1:abort_on_error=0"
  "UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1"
  "MSOCK_BIN_DIR=${CMAKE_BINARY_DIR}/bin"
  "MSOCK_SOURCE_DIR=${CMAKE_SOURCE_DIR}")

# A test or fuzz target for module MOD (dataplane_classify, derper_http,
# msockctl_wg_dump, ...) links the core library of the service (or of
# msockctl) the module's name starts with.
function(msock_link_service_core target mod)
  foreach(dir ${SERVICE_DIRS})
    get_filename_component(svc ${dir} NAME)
    if(TARGET ${svc}_core AND mod MATCHES "^${svc}")
      target_link_libraries(${target} ${svc}_core)
    endif()
  endforeach()
  if(TARGET derper_core AND mod MATCHES "^derper")
    target_link_libraries(${target} derper_core)
  endif()
  if(mod MATCHES "^msockctl_")
    target_link_libraries(${target} msockctl_core)
  endif()
endfunction()

# tests/support: helpers shared by integration tests (spawn a broker, talk to it).
file(GLOB SUPPORT_SRCS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/support/*.c)
add_library(test_support STATIC ${SUPPORT_SRCS})
target_include_directories(test_support PUBLIC ${CMAKE_SOURCE_DIR}/tests/support)
target_link_libraries(test_support PUBLIC broker_core PkgConfig::CMOCKA OpenSSL::SSL)

# tests/unit/<module>_test.c -> ctest <module>_unit
file(GLOB UNIT_SRCS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/unit/*_test.c)
foreach(src ${UNIT_SRCS})
  get_filename_component(name ${src} NAME_WE)
  string(REGEX REPLACE "_test$" "" mod ${name})
  add_executable(test-${mod} ${src})
  target_link_libraries(test-${mod} test_support)
  msock_link_service_core(test-${mod} ${mod})
  add_test(NAME ${mod}_unit COMMAND test-${mod})
  set_tests_properties(${mod}_unit PROPERTIES LABELS unit ENVIRONMENT "${MSOCK_TEST_ENV}" TIMEOUT 120)
endforeach()
# bus_doc_unit checks docs/bus.md's topic table against the code: a docs
# check too, so `ctest -L docs` runs it beside docs_links.
set_tests_properties(bus_doc_unit PROPERTIES LABELS "unit;docs")

# tests/integration/<name>_test.c -> ctest <name> (real processes on loopback)
file(GLOB INTEG_SRCS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/integration/*_test.c)
foreach(src ${INTEG_SRCS})
  get_filename_component(name ${src} NAME_WE)
  string(REGEX REPLACE "_test$" "" tname ${name})
  add_executable(itest-${tname} ${src})
  target_link_libraries(itest-${tname} test_support)
  add_dependencies(itest-${tname} msock-broker msock-testcomp msockctl)
  foreach(prog msock-derper msock-derp msock-debug)
    if(TARGET ${prog})
      add_dependencies(itest-${tname} ${prog})
    endif()
  endforeach()
  add_test(NAME ${tname} COMMAND itest-${tname})
  # 77: skipped (e.g. needs root)
  set_tests_properties(${tname} PROPERTIES LABELS integration ENVIRONMENT "${MSOCK_TEST_ENV}"
    TIMEOUT 300 SKIP_RETURN_CODE 77)
endforeach()

# tests/integration/*.sh -> ctest <name> (shell-driven integration tests)
file(GLOB INTEG_SH CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/integration/*.sh)
foreach(src ${INTEG_SH})
  get_filename_component(tname ${src} NAME_WE)
  add_test(NAME ${tname} COMMAND bash ${src})
  set_tests_properties(${tname} PROPERTIES LABELS integration ENVIRONMENT "${MSOCK_TEST_ENV}"
    TIMEOUT 300 SKIP_RETURN_CODE 77)
endforeach()

# tests/scripts/<name>_test.sh -> ctest <name>_script: the scripts/ themselves,
# with stub commands (no root, no network).
file(GLOB SCRIPT_SH CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/scripts/*_test.sh)
foreach(src ${SCRIPT_SH})
  get_filename_component(name ${src} NAME_WE)
  string(REGEX REPLACE "_test$" "_script" tname ${name})
  add_test(NAME ${tname} COMMAND bash ${src})
  set_tests_properties(${tname} PROPERTIES LABELS scripts ENVIRONMENT "${MSOCK_TEST_ENV}"
    TIMEOUT 60 SKIP_RETURN_CODE 77)
endforeach()

# tests/deploy/deploy_<name>.sh -> ctest deploy_<name>: containers under rootful podman
# (label deploy, serial); opt-in: each skips (77) unless MSOCK_TEST_DEPLOY=1.
file(GLOB DEPLOY_SH CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/deploy/deploy_*.sh)
foreach(src ${DEPLOY_SH})
  get_filename_component(tname ${src} NAME_WE)
  add_test(NAME ${tname} COMMAND bash ${src})
  set_tests_properties(${tname} PROPERTIES LABELS deploy RUN_SERIAL TRUE ENVIRONMENT "${MSOCK_TEST_ENV}"
    TIMEOUT 900 SKIP_RETURN_CODE 77)
endforeach()

# tests/lab/<name>.sh -> ctest lab_<name>: root + network namespaces, serial.
file(GLOB LAB_SH CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/lab/lab_*.sh)
foreach(src ${LAB_SH})
  get_filename_component(tname ${src} NAME_WE)
  add_test(NAME ${tname} COMMAND bash ${src})
  set_tests_properties(${tname} PROPERTIES LABELS lab RUN_SERIAL TRUE ENVIRONMENT "${MSOCK_TEST_ENV}" TIMEOUT 600)
endforeach()

# tests/docs/<name>_test.sh -> ctest <name>_doc: a document's commands run as
# it shows them (docs/quickstart.md), in network namespaces as the lab's:
# root, serial, label lab.
file(GLOB DOCS_SH CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/docs/*_test.sh)
foreach(src ${DOCS_SH})
  get_filename_component(name ${src} NAME_WE)
  string(REGEX REPLACE "_test$" "_doc" tname ${name})
  add_test(NAME ${tname} COMMAND bash ${src})
  set_tests_properties(${tname} PROPERTIES LABELS lab RUN_SERIAL TRUE ENVIRONMENT "${MSOCK_TEST_ENV}"
    TIMEOUT 600 SKIP_RETURN_CODE 77)
endforeach()

# tests/interop/<name>_test.sh -> ctest <name>_interop: msock against real
# Tailscale programs (derper, derpprobe, derphttp clients, netcheck) built
# from the Go module tests/interop (tailscale.com pinned). interop_build
# builds them first (a fixture; Go's caches make it a relink after the first
# time); without Go >= 1.26.8 it fails with a message saying so. Label
# interop; serial (most start namespaces or load the machine).
set(MSOCK_INTEROP_BIN ${CMAKE_BINARY_DIR}/interop-bin)
add_test(NAME interop_build COMMAND bash ${CMAKE_SOURCE_DIR}/tests/interop/build.sh ${MSOCK_INTEROP_BIN})
set_tests_properties(interop_build PROPERTIES LABELS interop FIXTURES_SETUP interop_bin TIMEOUT 900)
file(GLOB INTEROP_SH CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/interop/*_test.sh)
foreach(src ${INTEROP_SH})
  get_filename_component(name ${src} NAME_WE)
  string(REGEX REPLACE "_test$" "_interop" tname ${name})
  add_test(NAME ${tname} COMMAND bash ${src})
  set_tests_properties(${tname} PROPERTIES LABELS interop RUN_SERIAL TRUE
    FIXTURES_REQUIRED interop_bin
    ENVIRONMENT "${MSOCK_TEST_ENV};MSOCK_INTEROP_BIN=${MSOCK_INTEROP_BIN}"
    TIMEOUT 600 SKIP_RETURN_CODE 77)
endforeach()

# tests/fuzz/<module>_fuzz.c: libFuzzer programs with clang (MSOCK_FUZZ), or
# with any compiler a program that replays tests/fuzz/corpus/<module>/.
file(GLOB FUZZ_SRCS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/fuzz/*_fuzz.c)
foreach(src ${FUZZ_SRCS})
  get_filename_component(name ${src} NAME_WE)
  string(REGEX REPLACE "_fuzz$" "" mod ${name})
  if(MSOCK_FUZZ)
    add_executable(fuzz-${mod} ${src})
    target_link_options(fuzz-${mod} PRIVATE -fsanitize=fuzzer)
  else()
    add_executable(fuzz-${mod} ${src} ${CMAKE_SOURCE_DIR}/tests/fuzz/replay_main.c)
  endif()
  target_link_libraries(fuzz-${mod} broker_core)
  # Fuzzers do not link test_support (it brings cmocka); they may include its
  # header-only helpers (tests/support/disco_equal.h).
  target_include_directories(fuzz-${mod} PRIVATE ${CMAKE_SOURCE_DIR}/tests/support)
  msock_link_service_core(fuzz-${mod} ${mod})
  if(NOT MSOCK_FUZZ)
    add_test(NAME ${mod}_fuzz COMMAND fuzz-${mod} ${CMAKE_SOURCE_DIR}/tests/fuzz/corpus/${mod})
    set_tests_properties(${mod}_fuzz PROPERTIES LABELS fuzz ENVIRONMENT "${MSOCK_TEST_ENV}" TIMEOUT 300)
  endif()
endforeach()
