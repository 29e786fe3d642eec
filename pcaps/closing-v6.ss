# netns client
State   Recv-Q Send-Q Local Address:Port   Peer Address:PortProcess
CLOSING 0      1      [2001:db8::1]:53726 [2001:db8::2]:87         
# netns server
State   Recv-Q Send-Q Local Address:Port  Peer Address:Port Process
LISTEN  0      4096   [2001:db8::2]:87            [::]:*           
CLOSING 0      1      [2001:db8::2]:87   [2001:db8::1]:53726       
