# Guest programs are built for both guest architectures with the system compilers, outside
# CMake's own toolchain: gcc for x86-64 and aarch64-linux-gnu-gcc for aarch64.
find_program(GUEST_CC_x86_64 NAMES x86_64-linux-gnu-gcc gcc REQUIRED)
find_program(GUEST_CC_aarch64 NAMES aarch64-linux-gnu-gcc REQUIRED)
find_program(GUEST_AR_x86_64 NAMES x86_64-linux-gnu-ar ar REQUIRED)
find_program(GUEST_AR_aarch64 NAMES aarch64-linux-gnu-ar REQUIRED)
set(GUEST_OUT ${RSEQEMU_GUEST_DIR})
# The checkout's and the build's paths are mapped to fixed names (in __FILE__, hence assert
# messages, and in the debug info), so a guest is the same bytes, with the same addresses and
# digests, in every clone; the build directory comes last so that it wins when it lies inside
# the source tree. tests/e2e checks it (e2e.reproducible.*).
set(GUEST_CFLAGS -O2 -g -Wall -Wextra -Werror -I${PROJECT_SOURCE_DIR}/guest/include
    -ffile-prefix-map=${PROJECT_SOURCE_DIR}=. -ffile-prefix-map=${CMAKE_BINARY_DIR}=build)

# add_guest_program(NAME SOURCES src... [FREESTANDING | STATIC_PIE] [CFLAGS flags...] [LIBS libs...])
# builds guests/<arch>/NAME for every guest architecture; target guest-NAME builds them all.
# Programs are static glibc executables (ET_EXEC) unless FREESTANDING (no libc) or STATIC_PIE
# (-static-pie: an ET_DYN program that relocates itself, loaded at the PIE base).
function(add_guest_program name)
  cmake_parse_arguments(G "FREESTANDING;STATIC_PIE" "" "SOURCES;CFLAGS;LIBS" ${ARGN})
  set(outputs)
  foreach(arch ${GUEST_ARCHES})
    set(out ${GUEST_OUT}/${arch}/${name})
    set(srcs)
    foreach(s ${G_SOURCES})
      string(REPLACE "@ARCH@" ${arch} s ${s})
      if(NOT IS_ABSOLUTE ${s})
        set(s ${CMAKE_CURRENT_SOURCE_DIR}/${s})
      endif()
      list(APPEND srcs ${s})
    endforeach()
    if(G_FREESTANDING)
      set(mode -static -nostdlib -ffreestanding -fno-stack-protector -fno-builtin
               ${GUEST_OUT}/${arch}/libguest_start.a)
      set(deps guest-start-${arch})
    elseif(G_STATIC_PIE)
      set(mode -static-pie -fPIE -pthread)
      set(deps)
    else()
      set(mode -static -pthread)
      set(deps)
    endif()
    # The compiler's dependency file makes a change to an included header rebuild the guest.
    add_custom_command(OUTPUT ${out}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${GUEST_OUT}/${arch}
      COMMAND ${GUEST_CC_${arch}} ${GUEST_CFLAGS} ${G_CFLAGS} -MD -MF ${out}.d -o ${out} ${srcs}
              ${mode} ${G_LIBS}
      DEPENDS ${srcs} ${deps}
      DEPFILE ${out}.d
      COMMENT "guest ${arch}/${name}"
      VERBATIM)
    list(APPEND outputs ${out})
  endforeach()
  add_custom_target(guest-${name} ALL DEPENDS ${outputs})
  add_dependencies(guests guest-${name})
endfunction()

# Everything guest-side, for tests to depend on.
add_custom_target(guests ALL)
