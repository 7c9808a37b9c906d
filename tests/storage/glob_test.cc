#include "storage/glob.h"

#include <gtest/gtest.h>

namespace stockd::storage {
namespace {

TEST(GlobTest, RedisCases) {
  EXPECT_TRUE(GlobMatch("*", ""));
  EXPECT_TRUE(GlobMatch("*", "anything"));
  EXPECT_TRUE(GlobMatch("h?llo", "hello"));
  EXPECT_FALSE(GlobMatch("h?llo", "hllo"));
  EXPECT_TRUE(GlobMatch("h*llo", "heeeello"));
  EXPECT_TRUE(GlobMatch("h[ae]llo", "hallo"));
  EXPECT_FALSE(GlobMatch("h[ae]llo", "hillo"));
  EXPECT_TRUE(GlobMatch("h[^e]llo", "hallo"));
  EXPECT_FALSE(GlobMatch("h[^e]llo", "hello"));
  EXPECT_TRUE(GlobMatch("h[a-b]llo", "hbllo"));
  EXPECT_FALSE(GlobMatch("h[a-b]llo", "hcllo"));
  EXPECT_TRUE(GlobMatch("h\\*llo", "h*llo"));
  EXPECT_FALSE(GlobMatch("h\\*llo", "hello"));
  EXPECT_TRUE(GlobMatch("key:*", "key:1"));
  EXPECT_FALSE(GlobMatch("key:*", "ke:1"));
  EXPECT_TRUE(GlobMatch("PORT", "port", true));
  EXPECT_FALSE(GlobMatch("PORT", "port", false));
}

TEST(GlobTest, PathologicalPatternIsFast) {
  std::string subject(10000, 'a');
  EXPECT_FALSE(GlobMatch("a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b", subject));
}

}  // namespace
}  // namespace stockd::storage
