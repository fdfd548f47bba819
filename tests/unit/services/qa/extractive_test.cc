// Tests for span extraction by question type.
#include "services/qa/extractive.h"

#include <gtest/gtest.h>

namespace parley::qa {
namespace {

TEST(ExtractSpan, PicksTheAnswerTypeTheQuestionAsksFor) {
  EXPECT_EQ(extract_span("When were the Normans in Normandy?",
                         "The Normans gave their name to Normandy in the 10th and 11th centuries."),
            "10th and 11th centuries");
  EXPECT_EQ(extract_span("How many knights did Robert bring?", "Robert brought 300 knights to Italy."), "300");
  EXPECT_EQ(extract_span("Who led the Norman conquest of England?",
                         "The conquest of England was led by William the Conqueror in 1066."),
            "William the Conqueror");
  EXPECT_EQ(extract_span("In what country is Normandy located?", "Normandy is a region in France."), "France");
}

TEST(ExtractSpan, NothingOutsideTheQuestionMeansNoSpan) {
  EXPECT_EQ(extract_span("Where is Normandy?", "Normandy."), "");
}

}  // namespace
}  // namespace parley::qa
