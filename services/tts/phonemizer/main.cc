// parley-phonemize: text -> espeak-ng IPA phonemes, one line in, one line out, over stdin/stdout.
// Why: Piper voices are trained on espeak-ng IPA, and espeak-ng is GPL-3.0-or-later. This small
// program is the only Parley code that links it; it is licensed GPL-3.0-or-later (see
// LICENSE.md beside this file), and parley-tts (Apache-2.0) runs it as a separate process and
// talks to it over pipes (services/tts/README.md, "Licensing").
// Depends on libespeak-ng (Debian espeak-ng 1.51) only.
//
// Protocol: on start, one line "ready <espeak version> <voice>". Then for each input line (UTF-8,
// at most 64 KiB; longer lines are answered "!error line too long"), one output line: the IPA
// phonemes of every clause espeak finds in it, joined by single spaces, with espeak's
// language-switch flags such as "(fr)" removed. Exit at end of input.
#include <espeak-ng/speak_lib.h>

#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>

namespace {

std::string strip_flags(const std::string& s) {
  std::string out;
  int depth = 0;
  for (char c : s) {
    if (c == '(') {
      ++depth;
    } else if (c == ')' && depth > 0) {
      --depth;
    } else if (depth == 0) {
      out += c;
    }
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::string voice = "en-us";
  const char* data = nullptr;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a.rfind("--voice=", 0) == 0) voice = a.substr(8);
    else if (a.rfind("--data=", 0) == 0) data = argv[i] + 7;
    else if (a == "--help" || a == "-h") {
      std::printf("usage: parley-phonemize [--voice=en-us] [--data=ESPEAK_DATA_DIR]\n"
                  "Reads UTF-8 lines on stdin, writes espeak-ng IPA phonemes, one line each.\n"
                  "License: GPL-3.0-or-later (links espeak-ng).\n");
      return 0;
    }
  }
  if (espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, data, espeakINITIALIZE_DONT_EXIT) < 0) {
    std::fprintf(stderr, "parley-phonemize: espeak-ng failed to initialise (data: %s)\n", data ? data : "default");
    return 2;
  }
  if (espeak_SetVoiceByName(voice.c_str()) != EE_OK) {
    std::fprintf(stderr, "parley-phonemize: espeak-ng has no voice '%s'\n", voice.c_str());
    return 2;
  }
  const char* path = nullptr;
  const char* version = espeak_Info(&path);
  std::cout << "ready " << (version ? version : "?") << " " << voice << std::endl;
  std::string line;
  while (std::getline(std::cin, line)) {
    if (line.size() > 65536) {
      std::cout << "!error line too long" << std::endl;
      continue;
    }
    std::string out;
    const void* p = line.c_str();
    while (p != nullptr) {
      const char* ph = espeak_TextToPhonemes(&p, espeakCHARS_UTF8, espeakPHONEMES_IPA);
      if (ph == nullptr) break;
      std::string piece = strip_flags(ph);
      if (piece.empty()) continue;
      if (!out.empty()) out += ' ';
      out += piece;
    }
    std::cout << out << std::endl;
  }
  espeak_Terminate();
  return 0;
}
