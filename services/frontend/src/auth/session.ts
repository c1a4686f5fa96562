import { useQuery } from "@tanstack/react-query";
import { auth } from "../api";

/** Who am I: null when logged out. */
export function useMe() {
  return useQuery({ queryKey: ["me"], queryFn: auth.me, staleTime: 60_000 });
}

/** Only same-app paths are followed after login (never an absolute URL from the query string). */
export function safeNext(next: string | null): string {
  return next && next.startsWith("/") && !next.startsWith("//") && !next.startsWith("/login") ? next : "/";
}
